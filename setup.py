"""Package list for setuptools (the rest of the metadata is in pyproject.toml).

pyproject.toml alone cannot both discover the `omniar*` packages and add `omniar_models`, a package
whose folder (assets/, the embedded default models) has another name; so both are listed here.
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["omniar", "omniar.*"]), "omniar_models"],
    package_dir={"omniar_models": "assets"},
)
