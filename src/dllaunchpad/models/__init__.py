"""Model families: architectures and their LightningModules (no data loading, no paths)."""
