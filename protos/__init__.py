"""Proto sources compiled by grpcio-tools at build time (generated modules are git-ignored)."""
