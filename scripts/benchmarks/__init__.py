"""ggvision benchmarks, one module per area; `./scripts/bench [AREA…]` runs them."""
