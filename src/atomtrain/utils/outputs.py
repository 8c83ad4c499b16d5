"""Names of the auxiliary outputs architectures share with the framework."""


def last_layer_features_name(target: str) -> str:
    """The output holding the last-layer features of ``target`` (the input of its
    final linear layer), which uncertainty estimates such as LLPR read:
    ``mtt::aux::<target>_last_layer_features``."""
    return f"mtt::aux::{target.removeprefix('mtt::')}_last_layer_features"
