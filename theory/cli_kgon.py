"""Regular k-gon critical points of the TMS potential (placeholder until kgon.kgon lands)."""
NAME = "kgon"


def add_arguments(parser):
    pass


def run(args):
    raise ValueError("not implemented yet")
