"""dockyard: a self-hosted container platform speaking the wire protocols of AWS's container services."""

__version__ = "0.1.0"
