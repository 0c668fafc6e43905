"""The [autoscaling] section: the autoscaler, the metrics it sees, the instance lifecycle."""

from __future__ import annotations

from simscale.sections.base import Section


class AutoscalingSpec(Section):
    """Autoscaling; off unless configured (the instance count stays fixed)."""
