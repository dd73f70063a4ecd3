"""What a job does once it has completed: `on_success` hooks (`hooks` fires and records
them, `hook_command` runs a command or script hook) and `concert` chains (`chain` starts
the next job)."""
