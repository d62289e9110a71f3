"""Pictures and transformations for the matching benchmark and calibration.

Sources: the photographs that ship inside scikit-image (CC0 / public
domain) and matplotlib (Grace Hopper, public domain), and the photographs
and artwork in Debian's desktop wallpaper packages (free licences; read from
/usr/share at run time, never copied into the repository). Large
wallpapers are also cut into non-overlapping tiles, which serve only as
unrelated references ("distractors") for the false-positive count.
"""

import io
import random
import re
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont

WALLPAPER_DIRS = [Path("/usr/share/backgrounds"), Path("/usr/share/wallpapers")]
SKIMAGE_PHOTOS = [  # not "cat": it is chelsea again
    "astronaut", "camera", "coffee", "chelsea", "rocket", "immunohistochemistry", "hubble_deep_field",
    "moon", "page", "text", "brick", "grass", "gravel", "retina", "coins", "clock", "horse", "eagle", "lily",
    "skin", "microaneurysms", "logo", "colorwheel",
]  # fmt: skip


def package_pictures() -> list[tuple[str, Image.Image]]:
    import matplotlib.cbook
    import skimage.data

    out = []
    for name in SKIMAGE_PHOTOS:
        loader = getattr(skimage.data, name, None)
        if loader is None:
            continue
        try:
            array = loader()
        except (ModuleNotFoundError, OSError):  # not shipped in the wheel (fetched on demand)
            continue
        if array.ndim == 3 and array.shape[2] == 4:
            array = array[:, :, :3]
        out.append((f"skimage:{name}", Image.fromarray(np.asarray(array, dtype=np.uint8)).convert("RGB")))
    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as fh:
        out.append(("matplotlib:grace_hopper", Image.open(fh).convert("RGB")))
    return out


def wallpaper_files() -> list[Path]:
    seen, files = set(), []
    for root in WALLPAPER_DIRS:
        for path in sorted(root.rglob("*")):
            if path.suffix.lower() not in (".jpg", ".jpeg", ".png", ".webp") or "screenshot" in path.name:
                continue
            # KDE wallpapers ship one picture at several sizes and GNOME's come as
            # light/dark pairs of one artwork: keep one of each
            key = path.with_suffix("")
            if path.parent.name.startswith("images"):
                key = path.parent.parent
            elif path.stem.endswith(("-l", "-d")):
                key = path.with_name(path.stem[:-2])
            elif "-Cold-" in path.stem or "-Warm-" in path.stem:  # MATE: one artwork in two colour schemes
                key = path.with_name(path.stem.replace("-Cold-", "-").replace("-Warm-", "-"))
            elif re.search(r"_\d+x\d+$", path.stem):  # MATE ships Elephants.jpg and Elephants_3840x2160.jpg
                key = path.with_name(re.sub(r"_\d+x\d+$", "", path.stem))
            if key in seen:
                continue
            seen.add(key)
            files.append(path)
    return files


def wallpapers(max_side: int = 1600) -> list[tuple[str, Image.Image]]:
    out = []
    for path in wallpaper_files():
        try:
            picture = Image.open(path)
            picture.draft("RGB", (max_side, max_side))
            picture = picture.convert("RGB")
        except OSError:
            continue
        picture.thumbnail((max_side, max_side))
        out.append((f"debian:{path.relative_to('/usr/share')}", picture))
    return out


def tiles(pictures: list[tuple[str, Image.Image]], size: int = 320) -> list[tuple[str, Image.Image]]:
    out = []
    for name, picture in pictures:
        for top in range(0, picture.height - size + 1, size):
            for left in range(0, picture.width - size + 1, size):
                out.append((f"{name}#tile{left},{top}", picture.crop((left, top, left + size, top + size))))
    return out


def jpeg(picture: Image.Image, quality: int) -> Image.Image:
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=quality)
    return Image.open(io.BytesIO(out.getvalue())).convert("RGB")


def crop(picture: Image.Image, share: float, rng: random.Random) -> Image.Image:
    """Remove `share` of width and height, at a random place."""
    width, height = picture.size
    w, h = round(width * (1 - share)), round(height * (1 - share))
    left, top = rng.randint(0, width - w), rng.randint(0, height - h)
    return picture.crop((left, top, left + w, top + h))


def rotate(picture: Image.Image, degrees: float) -> Image.Image:
    # expand=False keeps the frame: corners are cut off and filled black, as in re-uploads
    return picture.rotate(degrees, resample=Image.Resampling.BICUBIC, expand=False)


def border(picture: Image.Image, share: float, rng: random.Random) -> Image.Image:
    width, height = picture.size
    pad = round(max(width, height) * share / 2)
    colour = rng.choice([(0, 0, 0), (255, 255, 255), (30, 30, 30), (200, 40, 60)])
    out = Image.new("RGB", (width + 2 * pad, height + 2 * pad), colour)
    out.paste(picture, (pad, pad))
    return out


def overlay(picture: Image.Image, rng: random.Random) -> Image.Image:
    """A site's watermark and caption: text and a logo box over the picture."""
    out = picture.copy()
    draw = ImageDraw.Draw(out)
    width, height = out.size
    size = max(14, height // 12)
    font = ImageFont.load_default(size=size)
    draw.text((width * 0.05, height * 0.82), "LEAKED hot-tube.example 18+", fill=(255, 255, 0), font=font)
    box = (round(width * 0.72), round(height * 0.04), round(width * 0.95), round(height * 0.16))
    draw.rectangle(box, fill=(220, 0, 80))
    draw.text((box[0] + 4, box[1] + 2), "XXX", fill=(255, 255, 255), font=font)
    return out


def screen_photo(picture: Image.Image, rng: random.Random) -> Image.Image:
    """A phone photo of a monitor: perspective, bezel, glare, moiré, blur, noise."""
    import cv2

    src = np.asarray(picture.convert("RGB"))
    height, width = src.shape[:2]
    canvas_w, canvas_h = round(width * 1.3), round(height * 1.3)
    jitter = lambda span: rng.uniform(-0.06, 0.06) * span  # noqa: E731
    target = np.float32(
        [
            [0.12 * canvas_w + jitter(canvas_w), 0.12 * canvas_h + jitter(canvas_h)],
            [0.88 * canvas_w + jitter(canvas_w), 0.10 * canvas_h + jitter(canvas_h)],
            [0.90 * canvas_w + jitter(canvas_w), 0.90 * canvas_h + jitter(canvas_h)],
            [0.10 * canvas_w + jitter(canvas_w), 0.88 * canvas_h + jitter(canvas_h)],
        ]
    )
    matrix = cv2.getPerspectiveTransform(np.float32([[0, 0], [width, 0], [width, height], [0, height]]), target)
    screen = src.astype(np.float32) * 0.85 + 20
    yy, xx = np.mgrid[0:height, 0:width]
    screen *= (1 + 0.06 * np.sin(xx * 0.9 + yy * 0.35))[:, :, None]  # moiré from the pixel grid
    warped = cv2.warpPerspective(screen, matrix, (canvas_w, canvas_h), borderValue=(25, 25, 28))
    gy, gx = np.mgrid[0:canvas_h, 0:canvas_w]
    glare = 60 * np.exp(-(((gx - canvas_w * 0.7) / (canvas_w * 0.3)) ** 2 + ((gy - canvas_h * 0.3) / canvas_h) ** 2))
    warped = warped + glare[:, :, None] + np.random.default_rng(rng.randint(0, 2**31)).normal(0, 6, warped.shape)
    out = Image.fromarray(np.clip(warped, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(1.2))
    return jpeg(out, 75)


def colour_shift(picture: Image.Image) -> Image.Image:
    shifted = ImageEnhance.Color(picture).enhance(1.4)
    shifted = ImageEnhance.Brightness(shifted).enhance(1.15)
    r, g, b = shifted.split()
    return Image.merge("RGB", (r.point(lambda v: min(255, v + 18)), g, b.point(lambda v: max(0, v - 12))))


TRANSFORMS = {
    "jpeg_q30": lambda p, r: jpeg(p, 30),
    "resize_25": lambda p, r: p.resize((max(1, p.width // 4), max(1, p.height // 4)), Image.Resampling.LANCZOS),
    "colour_shift": lambda p, r: colour_shift(p),
    "blur": lambda p, r: p.filter(ImageFilter.GaussianBlur(max(1.5, max(p.size) / 400))),
    "text_overlay": lambda p, r: overlay(p, r),
    "flip_h": lambda p, r: p.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
    "rotate_90": lambda p, r: p.transpose(Image.Transpose.ROTATE_90),
    "crop_10": lambda p, r: crop(p, 0.10, r),
    "crop_20": lambda p, r: crop(p, 0.20, r),
    "crop_30": lambda p, r: crop(p, 0.30, r),
    "rotate_+5": lambda p, r: rotate(p, 5),
    "rotate_-5": lambda p, r: rotate(p, -5),
    "border_10": lambda p, r: border(p, 0.10, r),
    "screen_photo": lambda p, r: screen_photo(p, r),
}
GROUPS = {
    "photometric (target 99 %)": ["jpeg_q30", "resize_25", "colour_shift", "blur"],
    "flips, 90° (target 95 %)": ["flip_h", "rotate_90"],
    "crops, ±5°, borders, overlays (target 90 %)": [
        "crop_10", "crop_20", "crop_30", "rotate_+5", "rotate_-5", "border_10", "text_overlay",
    ],
    "screen photo (no target)": ["screen_photo"],
}  # fmt: skip


def transformed(name: str, picture: Image.Image, transform: str) -> Image.Image:
    rng = random.Random(f"{name}/{transform}")  # the same copy on every run
    return TRANSFORMS[transform](picture, rng)
