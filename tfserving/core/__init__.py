"""The serving core, after TF Serving's: source -> aspired versions -> policy -> manager.

A source (see `tfserving.sources`) tells the `AspiredVersionsManager` which versions
of each servable stream it aspires to serve. The manager keeps a `LoaderHarness`
per version and asks the stateless `AvailabilityPreservingPolicy` for the next
action (load or unload) given a snapshot of every version's state. Every state
change is published to the `ServableStateMonitor`, which `GetModelStatus` reads.
"""
