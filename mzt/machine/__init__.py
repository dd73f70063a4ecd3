"""What every run on one machine shares: the machine configuration (`$MZT_HOME/config.yaml`)
and the slots that keep sibling runs within its limits, held by kernel locks."""
