"""omniar_models: the embedded default models, installed from the repository's assets/ folder.

Each subfolder is a diffusers-style pipeline (model_index.json) or component (config.json) with
safetensors weights and a model card; `omniar.assets` finds them through this package.
"""
