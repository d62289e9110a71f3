"""The law the desk meets: legal regimes, their clocks and what to do when a clock runs out.

Pure data and arithmetic (no models, no database): ``sites.routing`` and ``notices`` both read it, so it
sits below them. ``kesu.law.regimes`` is the registry; each jurisdiction's plug-ins live in their own
module (``us``, ``eu``, ``jp``, ``au``, ``uk``, ``desk``), escalation packets in ``packets``.
"""
