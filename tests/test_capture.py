"""Capture with Debian's Chromium against a local site: every medium with its exact bytes, bad pages, the guard."""

import hashlib
import io
import ipaddress

import pytest
from capture_site import CaptureSite
from egress import EgressProxy
from PIL import Image

from kesu.capture import streams
from kesu.capture.browser import Engine
from kesu.capture.policy import AddressPolicy
from kesu.capture.recorder import Limits
from kesu.lib.errors import UserError
from kesu.lib.netsettings import EgressProxy as Egress
from kesu.lib.netsettings import parse_networks, parse_proxy_rules

LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"),)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    with CaptureSite(tmp_path_factory.mktemp("site")) as site:
        yield site


@pytest.fixture(scope="module")
def engine():
    engine = Engine(AddressPolicy(allow=LOOPBACK), Limits(page_seconds=45), warm=1)
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def everything(site, engine):
    return engine.capture(site.url("/all.html"))


def _media_by_hash(capture) -> dict:
    return {item.sha256: item for item in capture.media if item.sha256}


@pytest.mark.slow
def test_every_medium_of_the_page_is_captured_with_the_sha256_of_its_bytes(site, everything):
    media = _media_by_hash(everything)
    exchanges = {e.sha256 for e in everything.exchanges if e.complete}
    missing = []
    for name, entry in site.on_page("/all.html").items():
        if entry["kind"] == "canvas":
            continue
        is_part = name.split("-")[0] in ("hls", "native", "dash") and not name.endswith("joined")
        found = entry["sha256"] in (exchanges if is_part else media)
        if not found:
            missing.append(name)
    assert missing == []
    assert everything.outcome == "complete", everything.errors


@pytest.mark.slow
def test_where_each_medium_appeared_is_recorded(site, everything):
    media = _media_by_hash(everything)
    expected = site.on_page("/all.html")
    plain = media[expected["plain"]["sha256"]]
    assert plain.source == "img" and plain.selector and plain.box and plain.box[2] > 0
    assert media[expected["bg-css"]["sha256"]].source == "css"
    assert media[expected["lazy-io"]["sha256"]].source == "lazy"
    assert media[expected["srcset-3x"]["sha256"]].source == "srcset"
    assert media[expected["iframe"]["sha256"]].frame_url.startswith(site.cdn)
    assert media[expected["hls-joined"]["sha256"]].source == "hls"
    assert media[expected["dash-joined"]["sha256"]].source == "dash"
    assert media[expected["native-joined"]["sha256"]].source == "hls"
    blob = media[expected["blob"]["sha256"]]
    assert blob.url.startswith(("blob:", "http")), blob.url


@pytest.mark.slow
def test_canvas_pixels_are_read_from_inside_the_page(site, everything):
    canvas = site.expected["canvas"]
    item = next(m for m in everything.media if m.source == "canvas")
    image = Image.open(io.BytesIO(item.body))
    assert image.size == (canvas["width"], canvas["height"])
    assert item.url.startswith("urn:kesu:canvas:")
    assert everything.exchange(item.exchange_ids[0]).route == "page"


@pytest.mark.slow
def test_network_record_has_addresses_redirect_chains_and_timing(site, everything):
    cdn_host = site.cdn.split("//")[1].split(":")[0]
    cdn = [e for e in everything.exchanges if e.url.startswith(site.cdn) and e.route == "browser" and e.status]
    assert cdn and all(e.remote_ip == cdn_host for e in cdn)
    document = next(e for e in everything.exchanges if e.resource_type == "Document")
    assert document.status == 200 and document.timing and document.started_at <= document.finished_at
    # The page's .html/.css/.js arrive gzipped; the record keeps the decoded body and the original header.
    encoded = [e for e in everything.exchanges if any(k.lower() == "content-encoding" for k, _ in e.response_headers)]
    assert encoded and all(e.body and not e.body.startswith(b"\x1f\x8b") for e in encoded)


@pytest.mark.slow
def test_large_video_read_by_the_player_in_ranges_is_kept_whole(site, everything):
    large = site.expected["video-large"]
    item = _media_by_hash(everything)[large["sha256"]]
    assert item.complete and len(item.body) == large["size"] > 20_000_000


@pytest.mark.slow
def test_a_second_capture_with_the_warm_browser_is_fresh(site, engine):
    first = engine.capture(site.url("/simple.html"))
    second = engine.capture(site.url("/simple.html"))
    for capture in (first, second):
        assert {site.expected["simple-image"]["sha256"], site.expected["simple-video"]["sha256"]} <= set(
            _media_by_hash(capture)
        )
        cookies = [v for e in capture.exchanges for k, v in e.request_headers if k.lower() == "cookie"]
        assert cookies == []


# --- bad pages: each ends with a recorded error, within the limits, and the browser goes on -------------


@pytest.fixture(scope="module")
def strict(site):
    engine = Engine(AddressPolicy(allow=LOOPBACK), Limits(page_seconds=8, body_seconds=5, body_bytes=8 << 20), warm=0)
    yield engine
    engine.close()


@pytest.mark.slow
@pytest.mark.parametrize(
    "path, expected",
    [
        ("/redirect-loop", "ERR_TOO_MANY_REDIRECTS"),
        ("/never", "HTML is incomplete: body not complete after 5 s"),
        ("/slow", "HTML is incomplete: body not complete after 5 s"),
    ],
)
def test_bad_page_ends_with_a_clear_error(site, strict, path, expected):
    capture = strict.capture(site.url(path))
    assert any(expected in error for error in capture.errors), capture.errors
    assert (capture.finished_at - capture.started_at).total_seconds() < 8 + 60


@pytest.mark.slow
def test_five_gigabyte_body_is_cut_at_the_limit(site, strict):
    capture = strict.capture(site.url("/huge.html"))
    huge = [e for e in capture.exchanges if e.url.endswith("/huge.bin") and e.status]
    assert huge and all(not e.complete for e in huge)
    assert any("8 MB limit" in e.incomplete_reason or "after 5 s" in e.incomplete_reason for e in huge)
    assert max(e.size for e in huge) <= 8 << 20
    assert capture.outcome == "partial"


@pytest.mark.slow
def test_invalid_tls_is_refused(site, strict):
    capture = strict.capture(site.tls_url)
    assert any("ERR_CERT" in error for error in capture.errors), capture.errors
    assert capture.outcome == "failed"


@pytest.mark.slow
def test_malformed_html_still_gives_its_image(site, strict):
    capture = strict.capture(site.url("/malformed.html"))
    assert site.expected["malformed"]["sha256"] in _media_by_hash(capture)


@pytest.mark.slow
def test_popups_are_closed_and_recorded(site, strict):
    capture = strict.capture(site.url("/popups.html"))
    assert capture.popups
    assert site.expected["popups"]["sha256"] in _media_by_hash(capture)


@pytest.mark.slow
def test_private_address_target_is_refused_before_the_browser(strict):
    capture = strict.capture("http://10.255.255.1/")
    assert capture.outcome == "failed" and capture.exchanges == []
    assert capture.errors == ["10.255.255.1: address 10.255.255.1 is refused by the capture policy"]


@pytest.mark.slow
def test_browser_survives_the_bad_pages(site, strict):
    capture = strict.capture(site.url("/simple.html"))
    assert capture.outcome == "complete" and site.expected["simple-image"]["sha256"] in _media_by_hash(capture)


@pytest.mark.slow
def test_guard_refuses_a_forbidden_address_inside_an_allowed_page(site):
    # Only the origin (127.0.0.1) is allowed; the CDN (127.0.0.2) stays forbidden like any loopback.
    engine = Engine(
        AddressPolicy(
            deny=tuple(parse_networks(["127.0.0.0/8"], "deny")), allow=(ipaddress.ip_network("127.0.0.1/32"),)
        ),
        Limits(page_seconds=15),
        warm=0,
    )
    try:
        capture = engine.capture(site.url("/simple.html"))
    finally:
        engine.close()
    refused = [e for e in capture.exchanges if e.url.startswith(site.cdn)]
    assert refused and all(e.status is None and "refused by the capture policy" in e.error for e in refused)
    assert not any(item.body for item in capture.media if item.url.startswith(site.cdn))
    assert any("127.0.0.2" in error for error in capture.errors)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["socks5", "http"])
def test_egress_proxy_per_site_carries_that_sites_traffic(site, kind):
    with EgressProxy(kind) as upstream:
        rules = tuple(parse_proxy_rules([f"127.0.0.2={upstream.url}"], "proxies"))
        engine = Engine(AddressPolicy(allow=LOOPBACK, proxies=rules), Limits(page_seconds=20), warm=0)
        try:
            capture = engine.capture(site.url("/simple.html"))
        finally:
            engine.close()
    cdn_port = int(site.cdn.rsplit(":", 1)[1])
    assert ("127.0.0.2", cdn_port) in upstream.targets
    assert all(target[0] == "127.0.0.2" for target in upstream.targets)  # the origin went direct
    assert capture.environment["egress"] == [Egress.parse(upstream.url).label]
    assert site.expected["simple-image"]["sha256"] in _media_by_hash(capture)


# --- pieces that need no browser ------------------------------------------------------------------


def test_policy_refuses_private_ranges_by_default_and_allows_what_is_listed():
    from kesu.lib.netsettings import DEFAULT_DENY

    policy = AddressPolicy(deny=tuple(parse_networks(DEFAULT_DENY, "deny")))
    for address in (
        "10.1.2.3",
        "192.168.0.1",
        "172.16.5.5",
        "127.0.0.1",
        "169.254.169.254",
        "::1",
        "fe80::1",
        "::ffff:10.0.0.1",
        "100.64.0.1",
    ):
        assert not policy.permits(address), address
    assert policy.permits("93.184.216.34") and policy.permits("2606:4700::1")
    assert AddressPolicy(deny=policy.deny, allow=LOOPBACK).permits("127.0.0.5")
    assert not AddressPolicy().permits("10.1.2.3")  # the default is the safe list


@pytest.mark.parametrize("value", ["10.0.0.0/33", "not-a-network"])
def test_bad_address_range_names_the_setting(value):
    with pytest.raises(UserError, match="KESU_CAPTURE_DENY"):
        parse_networks([value], "KESU_CAPTURE_DENY")


@pytest.mark.parametrize("value", ["*.jp", "*.jp=ftp://x:1", "*.jp=socks5://host"])
def test_bad_proxy_rule_names_the_setting(value):
    with pytest.raises(UserError, match="KESU_CAPTURE_PROXIES"):
        parse_proxy_rules([value], "KESU_CAPTURE_PROXIES")


def test_hls_master_and_media_playlists_are_read():
    master = streams.parse_hls(
        "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000\nlow.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=3000000\nhigh/index.m3u8\n",
        "https://v.example/a/m.m3u8",
    )
    assert master.variants[0] == (3000000, "https://v.example/a/high/index.m3u8")
    media = streams.parse_hls(
        '#EXTM3U\n#EXT-X-MAP:URI="init.mp4"\n#EXT-X-KEY:METHOD=AES-128,URI="k"\n'
        "#EXTINF:2,\ns1.m4s\n#EXTINF:2,\n/abs/s2.m4s\n#EXT-X-ENDLIST\n",
        "https://v.example/a/p.m3u8",
    )
    assert media.init == "https://v.example/a/init.mp4" and media.encrypted
    assert media.segments == ["https://v.example/a/s1.m4s", "https://v.example/abs/s2.m4s"]


def test_dash_templates_with_numbers_and_timelines():
    mpd = """<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" mediaPresentationDuration="PT7S"><Period>
      <AdaptationSet><Representation id="v1" bandwidth="500">
        <SegmentTemplate initialization="init-$RepresentationID$.m4s" media="c-$RepresentationID$-$Number%05d$.m4s"
          duration="2" timescale="1" startNumber="1"/></Representation></AdaptationSet>
      <AdaptationSet><Representation id="a" bandwidth="64"><SegmentTemplate initialization="a.mp4" media="a-$Time$.m4s">
        <SegmentTimeline><S t="0" d="100" r="1"/><S d="50"/></SegmentTimeline></SegmentTemplate></Representation>
      </AdaptationSet></Period></MPD>"""
    video, audio = streams.parse_dash(mpd, "https://v.example/d/m.mpd")
    assert video.init == "https://v.example/d/init-v1.m4s"
    assert video.segments[-1] == "https://v.example/d/c-v1-00004.m4s" and len(video.segments) == 4
    assert [s.rsplit("/", 1)[1] for s in audio.segments] == ["a-0.m4s", "a-100.m4s", "a-200.m4s"]


def test_a_stream_is_its_segments_joined(site):
    # Independent of the browser: the expected joined bytes are the parts' bytes in playlist order.
    for name in ("hls-joined", "dash-joined"):
        entry = site.expected[name]
        assert len(entry["parts"]) >= 4
        assert hashlib.sha256(b"".join(_get(url) for url in entry["parts"])).hexdigest() == entry["sha256"]


def _get(url: str) -> bytes:
    import urllib.request

    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read()


@pytest.mark.slow
def test_ytdlp_second_route_gets_the_video_bytes_through_the_guard(site):
    import asyncio

    from kesu.capture import ytdlp
    from kesu.capture.proxy import GuardProxy

    async def run():
        proxy = await GuardProxy(AddressPolicy(allow=LOOPBACK)).start()
        try:
            return await ytdlp.download(
                site.url("/simple.html"), proxy_url=proxy.url, user_agent="Kesu test", limit=50 << 20, seconds=60
            ), proxy.traffic
        finally:
            await proxy.close()

    (medium, exchange, error), traffic = asyncio.run(run())
    assert error == "" and medium.source == "ytdlp"
    assert medium.sha256 == site.expected["simple-video"]["sha256"]
    assert exchange.route == "ytdlp" and any(c.host == "127.0.0.2" for c in traffic.connections)


def test_ytdlp_is_wanted_only_when_a_video_lacks_its_bytes():
    from kesu.capture import ytdlp
    from kesu.capture.record import MediaItem

    whole = MediaItem(kind="video", url="http://x/v.mp4", source="video", body=b"x", complete=True)
    cut = MediaItem(kind="video", url="http://x/v.mp4", source="video", complete=False)
    assert not ytdlp.wanted([whole], [{"kind": "video", "url": "http://x/v.mp4"}])
    assert ytdlp.wanted([cut], [])
    refused = MediaItem(kind="video", url="http://x/v.mp4", source="video", incomplete_reason="x: address 10.0.0.1 "
                        "is refused by the capture policy")  # fmt: skip
    limited = MediaItem(
        kind="video", url="http://x/v.mp4", source="video", incomplete_reason="body larger than the 8 MB limit"
    )
    assert not ytdlp.wanted([refused, limited], [])
    assert ytdlp.wanted([], [{"kind": "video", "url": "blob:http://x/1"}])


@pytest.mark.slow
def test_worker_engine_keeps_a_pool_of_fresh_contexts(site):
    import time

    engine = Engine(AddressPolicy(allow=LOOPBACK), Limits(page_seconds=20), warm=2)
    try:
        engine.warm()
        assert engine.ready == 2
        engine.capture(site.url("/simple.html"))
        deadline = time.monotonic() + 20
        while engine.ready < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert engine.ready == 2  # the used context was thrown away and replaced
    finally:
        engine.close()


def test_guard_proxy_limits_connections_per_host():
    import asyncio

    from kesu.capture.proxy import GuardProxy

    async def run():
        open_now, most = 0, 0

        async def hold(reader, writer):
            nonlocal open_now, most
            open_now += 1
            most = max(most, open_now)
            await asyncio.sleep(0.3)
            open_now -= 1
            writer.close()

        server = await asyncio.start_server(hold, "127.0.0.3", 0)
        port = server.sockets[0].getsockname()[1]
        proxy = await GuardProxy(AddressPolicy(allow=LOOPBACK), host_connections=2).start()

        async def tunnel():
            reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
            writer.write(f"CONNECT 127.0.0.3:{port} HTTP/1.1\r\n\r\n".encode())
            await writer.drain()
            await reader.read()
            writer.close()

        await asyncio.gather(*(tunnel() for _ in range(6)))
        await proxy.close()
        server.close()
        return most, proxy.traffic

    most, traffic = asyncio.run(run())
    assert most == 2
    assert len(traffic.connections) == 6 and traffic.address_of("127.0.0.3", traffic.connections[0].port)


def test_playlists_that_would_trip_the_parsers():
    with_bom = streams.parse_hls("\ufeff#EXTM3U\n#EXTINF:2,\na.ts\n", "https://v.example/p.m3u8")
    assert with_bom.segments == ["https://v.example/a.ts"]
    ranged = streams.parse_hls("#EXTM3U\n#EXTINF:2,\n#EXT-X-BYTERANGE:100@0\nall.ts\n#EXTINF:2,\n"
                               "#EXT-X-BYTERANGE:100@100\nall.ts\n", "https://v.example/p.m3u8")  # fmt: skip
    assert ranged.segments == ["https://v.example/all.ts"]
    zero = ('<MPD><Period><AdaptationSet><Representation id="a"><SegmentTemplate media="$Number$" '
            'duration="2" timescale="0"/></Representation></AdaptationSet></Period></MPD>')  # fmt: skip
    for broken in (zero, "<MPD", ""):
        assert streams.parse_dash(broken, "https://v.example/m.mpd") is None
    period_level = """<MPD mediaPresentationDuration="PT6S"><Period><SegmentTemplate media="s-$Number$.m4s"
      initialization="i.mp4" duration="2" timescale="1"/><AdaptationSet><Representation id="v"/></AdaptationSet>
      </Period></MPD>"""
    (stream,) = streams.parse_dash(period_level, "https://v.example/m.mpd")
    assert stream.init.endswith("/i.mp4") and len(stream.segments) == 3
    until_end = """<MPD mediaPresentationDuration="PT10S"><Period><AdaptationSet><Representation id="v">
      <SegmentTemplate media="t-$Time$.m4s" timescale="1"><SegmentTimeline><S t="0" d="2" r="-1"/></SegmentTimeline>
      </SegmentTemplate></Representation></AdaptationSet></Period></MPD>"""
    (stream,) = streams.parse_dash(until_end, "https://v.example/m.mpd")
    assert len(stream.segments) == 5


def test_webrtc_cannot_go_around_the_guard():
    from kesu.capture.browser import LAUNCH_ARGS

    assert "--webrtc-ip-handling-policy=disable_non_proxied_udp" in LAUNCH_ARGS
    assert "--force-webrtc-ip-handling-policy" in LAUNCH_ARGS


def test_refetch_never_leaves_the_guard(monkeypatch):
    """no_proxy in the environment and non-http(s) URLs cannot make a re-fetch connect directly."""
    import asyncio
    import http.server
    import threading

    from kesu.capture.fetch import fetch
    from kesu.capture.proxy import GuardProxy

    hits = []

    class Internal(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(302 if self.path == "/to-ftp" else 200)
            self.send_header("Location", "ftp://127.0.0.1/secret")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.4", 0), Internal)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    internal = f"http://127.0.0.4:{server.server_address[1]}"
    monkeypatch.setenv("no_proxy", "127.0.0.4,localhost")

    async def run():
        proxy = await GuardProxy(AddressPolicy()).start()  # the default policy: loopback refused
        try:
            kwargs = dict(proxy_url=proxy.url, user_agent="t", referer="", limit=1 << 20, seconds=5, ident="r",
                          refusal_token=proxy.token)  # fmt: skip
            refused = await asyncio.to_thread(fetch, f"{internal}/secret", **kwargs)
            not_web = await asyncio.to_thread(fetch, "file:///etc/passwd", **kwargs)
            return refused, not_web
        finally:
            await proxy.close()

    try:
        refused, not_web = asyncio.run(run())
    finally:
        server.shutdown()
    assert hits == [] and refused.error == "re-fetch refused by the capture policy" and refused.body is None
    assert not_web.error == "re-fetch refused: not an http(s) URL"
