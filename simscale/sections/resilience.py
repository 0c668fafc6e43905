"""The [resilience] section: health checks, outlier ejection, breakers, retries, admission
control, slow start and fault injection."""

from __future__ import annotations

from simscale.sections.base import Section


class ResilienceSpec(Section):
    """Resilience mechanisms; every part is off unless configured."""
