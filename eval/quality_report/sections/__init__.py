"""The sections of the markdown report, each a function of the run's `Results` returning the
report's lines (paragraphs, tables) in order."""
