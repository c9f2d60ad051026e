"""The papers model: the catalogue (papers.yaml), CMS families, ids, the work folder.

The lowest layer: it imports no other package of the project.
"""
