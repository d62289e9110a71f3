"""Pictures that are not photos, and photos that are not hers: what the matcher must never call her picture.

A patrol meets far more of these than of her pictures: flat artwork and logos, screenshots of apps and
pages, images of text, and memes (someone else's photo under a big caption). Each maker draws the n-th
of its kind, deterministically (seeded by n), with PIL and a real JPEG encoder. The calibration
(bench/calibrate.py), the benchmark (bench/graphics.py) and the tests use the same ones.
"""

import random
from io import BytesIO

from PIL import Image, ImageDraw, ImageFont

SIZE = (640, 480)
WORDS = (
    "the quick brown fox jumps over lazy dog settings account privacy notifications share like follow "
    "message reply search home profile upload download terms help report block mute save cancel ok"
).split()


def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)


def _colour(rng: random.Random, low: int = 0, high: int = 256) -> tuple[int, int, int]:
    return tuple(rng.randrange(low, high) for _ in range(3))


def _words(rng: random.Random, count: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(count))


def jpeg(image: Image.Image, quality: int = 85) -> Image.Image:
    out = BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=quality)
    return Image.open(BytesIO(out.getvalue())).convert("RGB")


def flat_graphic(n: int) -> Image.Image:
    """Artwork of flat colours: a logo, a chart or a poster of shapes on one background."""
    rng = random.Random(f"kesu-flat-{n}")
    image = Image.new("RGB", SIZE, _colour(rng))
    draw = ImageDraw.Draw(image)
    width, height = SIZE
    if n % 3 == 0:  # a bar chart
        bars = rng.randint(4, 12)
        for i in range(bars):
            top = rng.randint(height // 5, height - 60)
            left = 40 + i * (width - 80) // bars
            draw.rectangle((left, top, left + (width - 80) // bars - 8, height - 40), fill=_colour(rng))
        draw.line((30, height - 40, width - 30, height - 40), fill=_colour(rng), width=3)
    elif n % 3 == 1:  # a pie or a target
        for radius in range(rng.randint(150, 230), 20, -rng.randint(25, 60)):
            box = (width / 2 - radius, height / 2 - radius, width / 2 + radius, height / 2 + radius)
            draw.ellipse(box, fill=_colour(rng))
    else:  # a poster of shapes
        for _ in range(rng.randint(4, 10)):
            x, y = rng.randrange(width), rng.randrange(height)
            size = rng.randint(30, 220)
            shape = rng.choice((draw.rectangle, draw.ellipse))
            shape((x, y, x + size, y + size * rng.uniform(0.5, 1.5)), fill=_colour(rng))
    draw.text((30, 20), _words(rng, 3).upper(), fill=_colour(rng), font=_font(rng.randint(28, 56)))
    return jpeg(image, rng.choice((70, 85, 95)))


def screenshot(n: int) -> Image.Image:
    """An app or a web page: a title bar, a menu, buttons, lines of text, a list."""
    rng = random.Random(f"kesu-screenshot-{n}")
    width, height = SIZE
    dark = rng.random() < 0.4
    background, ink = ((30, 32, 36), (220, 220, 220)) if dark else ((250, 250, 250), (30, 30, 30))
    image = Image.new("RGB", SIZE, background)
    draw = ImageDraw.Draw(image)
    accent = _colour(rng, 40, 220)
    draw.rectangle((0, 0, width, 44), fill=accent)
    draw.text((16, 10), _words(rng, 2).title(), fill="white", font=_font(22))
    sidebar = rng.choice((0, 160))
    if sidebar:
        draw.rectangle((0, 44, sidebar, height), fill=tuple(max(0, c - 12) for c in background))
        for i in range(8):
            draw.text((14, 60 + 34 * i), _words(rng, 1).title(), fill=ink, font=_font(16))
    y = 64
    while y < height - 40:
        kind = rng.random()
        if kind < 0.15:
            draw.rounded_rectangle((sidebar + 20, y, sidebar + 140, y + 30), radius=6, fill=accent)
            draw.text((sidebar + 32, y + 6), _words(rng, 1).upper(), fill="white", font=_font(15))
            y += 44
        elif kind < 0.3:
            draw.line((sidebar + 20, y, width - 20, y), fill=(128, 128, 128), width=1)
            y += 12
        else:
            size = rng.choice((14, 16, 18, 24))
            draw.text((sidebar + 20, y), _words(rng, rng.randint(3, 9)), fill=ink, font=_font(size))
            y += size + 12
    return jpeg(image, rng.choice((80, 90)))


def text_image(n: int) -> Image.Image:
    """A quote or a notice as a picture: paragraphs of text on a plain or two-colour background."""
    rng = random.Random(f"kesu-text-{n}")
    first, second = _colour(rng), _colour(rng)
    image = Image.new("RGB", SIZE, first)
    draw = ImageDraw.Draw(image)
    if rng.random() < 0.5:
        draw.rectangle((0, SIZE[1] * 2 // 3, SIZE[0], SIZE[1]), fill=second)
    ink = (255, 255, 255) if sum(first) < 380 else (0, 0, 0)
    size = rng.choice((20, 28, 36))
    y = 30
    while y < SIZE[1] - size - 20:
        draw.text((30, y), _words(rng, rng.randint(2, 6)), fill=ink, font=_font(size))
        y += int(size * 1.4)
    return jpeg(image, 85)


def meme(photo: Image.Image, n: int) -> Image.Image:
    """Someone else's photo under a big caption: white letters edged in black, or a white caption bar."""
    rng = random.Random(f"kesu-meme-{n}")
    picture = photo.convert("RGB").copy()
    picture.thumbnail(SIZE)
    if rng.random() < 0.5:
        bar = picture.height // 4
        image = Image.new("RGB", (picture.width, picture.height + bar), "white")
        image.paste(picture, (0, bar))
        ImageDraw.Draw(image).text((16, bar // 4), _words(rng, 4), fill="black", font=_font(max(18, bar // 2 - 4)))
        return jpeg(image, 80)
    draw = ImageDraw.Draw(picture)
    size = max(24, picture.height // 8)
    for y in (8, picture.height - size - 16):
        draw.text((12, y), _words(rng, 3).upper(), fill="white", font=_font(size), stroke_width=3, stroke_fill="black")
    return jpeg(picture, 80)


MAKERS = {"flat": flat_graphic, "screenshot": screenshot, "text": text_image}


def negatives(count: int, photos: list[Image.Image] = ()) -> list[tuple[str, Image.Image]]:
    """``count`` of each drawn kind, and ``count`` memes over ``photos`` (round robin), named kind:n."""
    out = [(f"{kind}:{n}", maker(n)) for kind, maker in MAKERS.items() for n in range(count)]
    if photos:
        out += [(f"meme:{n}", meme(photos[n % len(photos)], n)) for n in range(count)]
    return out
