"""The files gosvc ships that are not Python (the Backstage validator run by Node, the collector's main
package, the declarative-pipeline reader run by Groovy), and where the folder holding the generator package is:
gosvc's checkout, when it runs from one."""

from pathlib import Path

FOLDER = Path(__file__).resolve().parent
"""This folder: a resource is FOLDER / its file name."""
CHECKOUT = FOLDER.parent.parent
"""The folder that holds the generator package: a clone of gosvc (with copier.yml and template/) when gosvc runs
from one, site-packages when it is installed."""
