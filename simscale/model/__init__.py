"""The SimPy model of the service: requests, instances, routing, metrics."""

from simscale.model.core import Model
from simscale.model.request import STATUS_NAMES, Request

__all__ = ["STATUS_NAMES", "Model", "Request"]
