"""Re-export of `omniar.data.labels`, where label parsing lives now (below the pipelines, so that
data sets can use it too); kept because the pipelines and user code import it from here."""

from omniar.data.labels import label_id, label_ids

__all__ = ["label_id", "label_ids"]
