"""gridgov: a discrete-event simulation of grid-based local governance.

"One grid, one worker": a town is cut into grids of about 1,000 people, each
with a grid worker who collects and handles residents' matters; difficult
matters are claimed by town departments, urgent ones get enforcement teams
sent down, overdue ones are supervised and escalated. See README.md.
"""

__version__ = "0.1.0"
