"""Domain experts: each Chef turns a request into a typed SpecPatch and never touches audio."""
