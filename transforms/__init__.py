"""tailguard.transforms: one Beam PTransform per stage, thin DoFns around tailguard.filters."""
