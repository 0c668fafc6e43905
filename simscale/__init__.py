"""simscale: a discrete-event simulator and policy testbed for a scaled AI-chat service."""

__version__ = "0.1.0"
