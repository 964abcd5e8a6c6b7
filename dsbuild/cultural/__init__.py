"""Cultural-nuance ratings: the long table (`ratings`), wide spreadsheets (`spreadsheet`),
means and agreement (`analysis`), charts and HTML (`report`), and the demo data (`synthetic`).

Nothing is imported here, so `import dsbuild.cultural` stays cheap; import the module you need.
"""
