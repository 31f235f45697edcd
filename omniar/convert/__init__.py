"""Converters from published checkpoints to ordinary omniar pipeline folders.

`omniar convert llamagen` (`omniar.convert.llamagen_pipeline`) turns LlamaGen's (and NPP's)
GPT and VQ files into an `ImagePipeline` folder; `checkpoint_files` reads the files safely.
"""
