"""What a file is, read from its bytes (never from its name), within limits."""

import warnings
from dataclasses import dataclass, field
from io import BytesIO

from django.conf import settings
from PIL import Image, ImageFilter, ImageOps, UnidentifiedImageError

from ..lib.errors import UserError

# Container signatures: (offset, magic, mime). Enough to tell a video from
# junk; decoding is the matching engine's job.
VIDEO_MAGIC = [
    (4, b"ftyp", "video/mp4"),
    (0, b"\x1a\x45\xdf\xa3", "video/webm"),
    (0, b"FLV\x01", "video/x-flv"),
    (0, b"\x00\x00\x01\xba", "video/mpeg"),
]


@dataclass(frozen=True)
class MediaInfo:
    kind: str  # "image" or "video"
    mime: str
    width: int | None = None
    height: int | None = None
    image: Image.Image | None = field(default=None, compare=False, repr=False)  # decoded once, reused


# HEIC and AVIF pictures share MP4's container; their brand tells them apart.
IMAGE_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis"}


def _video_mime(data: bytes) -> str | None:
    if data[4:8] == b"ftyp" and data[8:12] in IMAGE_BRANDS:
        return None
    for offset, magic, mime in VIDEO_MAGIC:
        if data[offset : offset + len(magic)] == magic:
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"AVI ":
        return "video/x-msvideo"
    if len(data) > 188 * 2 and data[0] == 0x47 and data[188] == 0x47:
        return "video/mp2t"
    return None


def _register_heif() -> None:
    """Phones save HEIC; Pillow reads AVIF itself, pillow-heif adds HEIC/HEIF."""
    import pillow_heif

    pillow_heif.register_heif_opener()


_register_heif()


ORIENTATION = 0x0112  # EXIF tag
DRAFT_MIN_SIDE = 1024


def open_image(data: bytes) -> Image.Image:
    """Decode an image fully, refusing bombs and broken files with a clear error."""
    Image.MAX_IMAGE_PIXELS = settings.KESU_MAX_IMAGE_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(BytesIO(data))
            # JPEG can decode at 1/2, 1/4, 1/8 scale. Pillow picks the smallest that keeps both sides at
            # least DRAFT_MIN_SIDE: a 12 MP photo comes out at 2000 x 1500, decoded in a quarter of the time
            # (and nothing Kesu does looks at more than 2048 px)
            image.draft(image.mode, (DRAFT_MIN_SIDE, DRAFT_MIN_SIDE))
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UserError("image is too large (decompression bomb refused)") from None
    except UnidentifiedImageError:
        raise UserError("not an image or video that Kesu can read") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise UserError(f"image is damaged or truncated ({type(exc).__name__})") from None
    if image.getexif().get(ORIENTATION, 1) == 1:
        return image  # upright already: exif_transpose would copy the pixels all the same
    upright = ImageOps.exif_transpose(image)
    upright.format = image.format  # the turned copy forgets what it was decoded from
    return upright


def inspect(data: bytes) -> MediaInfo:
    if not data:
        raise UserError("file is empty")
    mime = _video_mime(data)
    if mime:
        return MediaInfo("video", mime)
    image = open_image(data)
    mime = Image.MIME.get(image.format or "", "application/octet-stream")
    return MediaInfo("image", mime, image.width, image.height, image)


def blurred_preview(image: Image.Image, size: int = 320, strength: float = 1.0) -> bytes:
    """A small blurred greyscale JPEG: by default (``strength`` 1) heavily, it shows that there is a picture,
    not what it shows. A reviewer may choose a lighter blur (``strength`` down to 0.2: shapes, still no
    detail); the unblurred pixels never leave the server unless a user reveals them."""
    image = image.convert("L")
    image.thumbnail((size, size))
    radius = max(6, size // 24) * min(1.0, max(0.2, strength))
    image = image.filter(ImageFilter.GaussianBlur(radius=radius))
    out = BytesIO()
    image.save(out, "JPEG", quality=70)
    return out.getvalue()


def display_copy(data: bytes, size: int = 1600) -> tuple[bytes, str]:
    """The revealed image, bounded in size and re-encoded (drops EXIF/GPS)."""
    image = open_image(data)
    image.thumbnail((size, size))
    if image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    out = BytesIO()
    image.save(out, "JPEG", quality=88)
    return out.getvalue(), "image/jpeg"
