"""omniar.pipelines."""
