"""The shared training engine: one loop with hooks (:mod:`.loop`), the trainer base
class architectures extend (:mod:`.engine`), and what the loop uses — batches, losses,
metrics, schedules, EMA, logging, checkpoints on signals and distributed training."""
