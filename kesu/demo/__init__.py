"""The demo: everything Kesu holds only to show itself, never for real use.

- load: the demo staff logins, a demo case with public-domain pictures, watches over the demo web.
- media: the demo web's pictures and videos, made by real encoders from photos shipped in packages.
- pages, sites, web: the demo web, fake hostile sites on loopback (HTTP) with their abuse desks (SMTP).
- synthetic: a SYNTHETIC request history for predictions, the reports and their tests.

Only the CLI (kesu/cli/demo.py: ``kesu demo``, ``kesu run --demo``), the tests and the benchmarks import
this package; the domain packages know nothing of it (tests/test_house_demo.py holds them to that).
Importing the package itself loads nothing, so the demo web runs without Django set up.
"""
