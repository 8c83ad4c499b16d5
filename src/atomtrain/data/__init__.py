"""Everything between a user's files and a batch: readers, targets, datasets."""
