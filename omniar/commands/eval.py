"""`omniar eval tokenizer|image|audio|mesh|graph ...`."""

from omniar.commands.modality import register_family


def register(subparsers) -> None:
    register_family(subparsers, "eval", "measure a model's quality and speed")
