"""Found and reference videos in a form the browser plays.

Patrol keeps a video as it was found: an HLS stream's MPEG-TS segments joined, an AVI, a HEVC MP4. Browsers
play few of these, and a reveal that shows nothing still costs the reviewer a look. So a video is served as
fragmented MP4: the streams are copied when the browser decodes their codecs (remux), else re-encoded to
H.264 / AAC. Everything stays in memory (PyAV reads and writes ``BytesIO``): no plaintext file is ever
written. The copy is made once and kept sealed in the vault with the source's key (``PlayableCopy``).
"""

from io import BytesIO

import av
from av.bitstream import BitStreamFilterContext
from django.db import transaction

from ..lib.errors import UserError
from ..vault import services as vault
from ..vault.models import VaultBlob
from .models import PlayableCopy

CONTENT_TYPE = "video/mp4"
# What Chromium decodes inside MP4 (H.264 and AAC need its proprietary codecs, which Debian's build has).
BROWSER_VIDEO = frozenset({"h264", "vp9", "av1"})
BROWSER_AUDIO = frozenset({"aac", "mp3", "opus", "flac"})
# Written as fragments from the start: playback begins before the whole file has arrived. The moov waits for
# the first fragment (delay_moov), so that codec headers only the packets carry (AAC from ADTS) are in it.
# An HLS stream's first timestamp is ~1.4 s, not 0: shifted to 0, the player's clock starts with the picture.
MUXER_OPTIONS = {"movflags": "frag_keyframe+empty_moov+delay_moov+default_base_moof", "avoid_negative_ts": "make_zero"}


def playable(blob: VaultBlob) -> bytes:
    """The fragmented MP4 of a sealed video, made on first use. UserError when it cannot be decoded."""
    kept = PlayableCopy.objects.filter(source=blob, copy__isnull=False).select_related("copy__data_key").first()
    if kept:
        return vault.read_blob(kept.copy)
    data = to_fragmented_mp4(vault.read_blob(blob))
    with transaction.atomic():
        copy = vault.store_blob(blob.data_key, data)
        PlayableCopy.objects.update_or_create(source=blob, defaults={"copy": copy})
    return data


def to_fragmented_mp4(data: bytes) -> bytes:
    """Any video PyAV reads, as fragmented MP4 with browser codecs; the first video and audio streams only."""
    out = BytesIO()
    try:
        with av.open(BytesIO(data), "r") as source:
            streams = [s for s in (*source.streams.video[:1], *source.streams.audio[:1])]
            if not source.streams.video:
                raise UserError("this file has no video stream to play")
            with av.open(out, "w", format="mp4", options=MUXER_OPTIONS) as target:
                _convert(source, target, streams)
    except (av.FFmpegError, ValueError) as exc:
        raise UserError(f"the video cannot be decoded for playing ({type(exc).__name__})") from None
    return out.getvalue()


def _copies(stream) -> bool:
    codecs = BROWSER_VIDEO if stream.type == "video" else BROWSER_AUDIO
    return stream.codec_context.name in codecs


def _output(target, stream):
    """The output stream for one input stream: a copy of it, or an encoder of a codec browsers play."""
    if _copies(stream):
        copy = target.add_stream_from_template(stream)
        copy.codec_context.codec_tag = "\0\0\0\0"  # MPEG-TS's stream type means nothing in MP4: the muxer picks
        return copy
    if stream.type == "audio":
        return target.add_stream("aac", rate=stream.codec_context.sample_rate or 48_000)
    encoder = target.add_stream("libx264", rate=stream.average_rate or 25)
    # 4:2:0 needs even sides.
    encoder.width, encoder.height = stream.codec_context.width // 2 * 2, stream.codec_context.height // 2 * 2
    encoder.pix_fmt = "yuv420p"
    encoder.codec_context.time_base = stream.time_base
    encoder.options = {"preset": "veryfast", "crf": "23"}
    return encoder


def _filters(streams) -> dict:
    """MP4 keeps AAC without the ADTS headers MPEG-TS carries: copied AAC passes aac_adtstoasc (which leaves
    AAC that has none as it is)."""
    return {
        s.index: BitStreamFilterContext("aac_adtstoasc", s)
        for s in streams
        if _copies(s) and s.codec_context.name == "aac"
    }


def _convert(source, target, streams) -> None:
    outputs = {stream.index: _output(target, stream) for stream in streams}
    filters = _filters(streams)
    for packet in source.demux(*streams):
        output = outputs[packet.stream.index]
        if _copies(packet.stream):
            if packet.dts is None:  # the demuxer's empty end-of-stream packet
                continue
            bsf = filters.get(packet.stream.index)
            for piece in bsf.filter(packet) if bsf else [packet]:
                piece.stream = output
                target.mux(piece)
            continue
        for frame in packet.decode():
            target.mux(output.encode(frame))
    for stream in streams:
        if not _copies(stream):
            target.mux(outputs[stream.index].encode(None))


def forget(blob: VaultBlob) -> None:
    """Delete the playable copy of a blob that is about to be deleted (the row goes with the blob; its
    sealed file would not). A case's shredding needs no call: its key opens neither any more."""
    for kept in PlayableCopy.objects.filter(source=blob, copy__isnull=False).select_related("copy"):
        vault.delete_blob(kept.copy)
