"""Training tasks: each module builds a TrainingSetup from a recipe (see omniar.training.recipes)."""
