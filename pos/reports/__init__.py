"""A program's report for officers and funders: the figures, their charts and the page."""
