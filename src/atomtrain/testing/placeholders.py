"""The placeholder person ``atomtrain new-architecture`` writes into a new
architecture's ``__init__.py`` when it is not told the authors, which the suite's
contract check refuses (importing this module imports neither torch nor pytest)."""

#: ``(name-with-email, github-handle)`` as the scaffold writes it.
PLACEHOLDER_PERSON = ("Your Name <you@example.org>", "@your-github-handle")
