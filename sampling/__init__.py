"""sampling: data sets, the exact fast empirical potential, posterior sampling, SGD and SGLD."""

__all__: list[str] = []
