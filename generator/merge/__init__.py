"""Three-way merges that understand what a file holds, for the conflicts a line merge leaves.

A line merge conflicts on changes that do not collide in meaning: two settings appended to the same env file, a
file whose line endings the team changed, a sorted ignore file. `three_way` tries merges that know the file's
structure (line endings, keyed lines, and mergiraf's syntax trees where it is installed); `index` applies them to
the conflicts an update left in a git index and keeps a result only when it parses.
"""
