"""The domain of Vyke Produce: productions, briefs, specs, the Maestro and its interfaces.

``core`` imports no other package of the product: ``bot`` injects the brains, chefs,
job queue and store that the Maestro uses.
"""
