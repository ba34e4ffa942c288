"""The operator's logo, an upload from outside: checked as hostile input and re-encoded.

An administrator's browser may hand over anything labelled ``logo.png``. The content's
first bytes decide what it is (never its name or ``Content-Type``); only PNG, JPEG and
WebP are taken, and SVG is refused rather than sanitised: it is a document that can
carry script, external references and CSS, and no filter we could write is as safe as
not accepting it. The picture's size is read from its header before any pixel is
decoded (a 10 kB file can claim 50 000 × 50 000 pixels), then the picture is decoded
and written again as a fresh PNG, so what is stored and served holds pixels only: no
metadata (a photo's GPS position), no trailing payload (a PNG that is also a ZIP or an
HTML page), and the one content type ``image/png``.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image, UnidentifiedImageError

MAX_UPLOAD_BYTES = 512 * 1024
# The header shows the logo 40–56 px high; 1024 px leaves room for a sharp picture on a
# high-density screen and keeps a decode under ~4 MB of memory (RGBA).
MAX_SIDE_PX = 1024
SERVED_TYPE = "image/png"

_ACCEPTED = {
    b"\x89PNG\r\n\x1a\n": "PNG",
    b"\xff\xd8\xff": "JPEG",
}
_SVG_HINTS = (b"<svg", b"<?xml", b"<!DOCTYPE svg", b"<!--")


class LogoRefused(ValueError):
    """The upload is not a logo we serve; ``code`` is the field error's code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def too_large() -> LogoRefused:
    return LogoRefused("too-large-file", f"{MAX_UPLOAD_BYTES // 1024} Ko au plus.")


def sniffed_format(data: bytes) -> str | None:
    """PNG, JPEG or WEBP by the content's first bytes; ``None`` for anything else."""
    for magic, name in _ACCEPTED.items():
        if data.startswith(magic):
            return name
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def _looks_like_svg(data: bytes) -> bool:
    head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return any(head.startswith(hint.lower()) for hint in _SVG_HINTS) or b"<svg" in head


def sanitised_logo(data: bytes) -> bytes:
    """The logo as a fresh PNG, or :class:`LogoRefused` saying why not."""
    if not data:
        raise LogoRefused("required", "Choisissez un fichier image.")
    if len(data) > MAX_UPLOAD_BYTES:
        raise too_large()
    kind = sniffed_format(data)
    if kind is None:
        if _looks_like_svg(data):
            raise LogoRefused(
                "svg-refused", "Les images SVG ne sont pas acceptées : envoyez un PNG."
            )
        raise LogoRefused("unsupported-image", "Image PNG, JPEG ou WebP attendue.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[kind]) as picture:
                width, height = picture.size  # from the header: nothing decoded yet
                if not (0 < width <= MAX_SIDE_PX and 0 < height <= MAX_SIDE_PX):
                    raise LogoRefused(
                        "too-many-pixels", f"{MAX_SIDE_PX} × {MAX_SIDE_PX} pixels au plus."
                    )
                picture.load()
                clean = picture.convert("RGBA")
    except LogoRefused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise LogoRefused(
            "too-many-pixels", f"{MAX_SIDE_PX} × {MAX_SIDE_PX} pixels au plus."
        ) from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise LogoRefused("unreadable-image", "Cette image est illisible ou tronquée.") from exc
    out = io.BytesIO()
    clean.save(out, format="PNG", optimize=True)
    return out.getvalue()
