# Plain int counters with names, readable from the REPL: print(stack_core.counters).


class Counters:
    def __init__(self, names):
        self._names = names
        for name in names:
            setattr(self, name, 0)

    def bump(self, name):
        """Add one to the counter called `name` (for a name chosen at run time)."""
        setattr(self, name, getattr(self, name) + 1)

    def as_dict(self):
        return {name: getattr(self, name) for name in self._names}

    def total(self):
        count = 0
        for name in self._names:
            count += getattr(self, name)
        return count

    def reset(self):
        for name in self._names:
            setattr(self, name, 0)

    def __repr__(self):
        return " ".join(name + "=" + str(getattr(self, name)) for name in self._names)
