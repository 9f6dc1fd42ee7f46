"""The sample network's four themes, marked for the catalogs so that they are shown in
every language (``Places.spoken``). A network with themes of its own translates them the
same way: their names and descriptions as messages in a catalog of the templates folder.
"""

from __future__ import annotations

from commsbot.i18n import N_

SAMPLE_THEMES = (
    N_("Smart Incentives"),
    N_("Smart incentives (finance): innovative types of finance that enable cross-innovation."),
    N_("Culture-based Innovation"),
    N_("Schemes that bring artistic and creative practice into business and the public sector."),
    N_("Brokerage"),
    N_("Services that connect cross-innovation enablers with beneficiaries across sectors."),
    N_("Spatial Cross-Collaboration"),
    N_("Services in co-working spaces, incubators, fab-labs, science parks and local clusters."),
)
