"""tailguard.pipelines: wiring, configuration and the command line."""
