"""Building blocks any architecture may hold: the composition baseline
(:mod:`.composition`), the output scaler (:mod:`.scaling`), the ZBL repulsion
(:mod:`.zbl`), LoRA adapters (:mod:`.lora`), and the equivariant outputs of tensor
targets (:mod:`.equivariant`, on the Clebsch–Gordan algebra of :mod:`.spherical`).

This layer sits above ``data`` and ``utils`` and below ``training``: the engine fits and
uses these modules, and architectures build models from them, but no module here knows
about either.
"""
