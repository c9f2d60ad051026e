"""The built-in CMS families, one module each (papers/family.py says what a module holds)."""
