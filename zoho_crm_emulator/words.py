"""Word lists that generated names, titles and texts are drawn from."""

from __future__ import annotations


def _words(text: str) -> tuple[str, ...]:
    """Split a space-separated list (compact to read, cheap to index)."""
    return tuple(text.split())


FIRST_NAMES = _words(
    "James Mary John Patricia Robert Jennifer Michael Linda William Elizabeth David Barbara "
    "Richard Susan Joseph Jessica Thomas Sarah Charles Karen Christopher Nancy Daniel Lisa "
    "Matthew Betty Anthony Margaret Mark Sandra Donald Ashley Steven Kimberly Paul Emily "
    "Andrew Donna Joshua Michelle Kenneth Carol Kevin Amanda Brian Dorothy George Melissa "
    "Timothy Deborah Ronald Stephanie Jason Rebecca Edward Sharon Jeffrey Laura Ryan Cynthia "
    "Jacob Kathleen Gary Amy Nicholas Angela Eric Shirley Jonathan Anna Stephen Brenda Larry "
    "Pamela Justin Emma Scott Nicole Brandon Helen Benjamin Samantha Samuel Katherine Gregory "
    "Christine Alexander Debra Frank Rachel Patrick Carolyn Raymond Janet Jack Catherine "
    "Dennis Maria"
)

LAST_NAMES = _words(
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez "
    "Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson "
    "White Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott "
    "Torres Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter "
    "Roberts Gomez Phillips Evans Turner Diaz Parker Cruz Edwards Collins Reyes Stewart "
    "Morris Morales Murphy Cook Rogers Gutierrez Ortiz Morgan Cooper Peterson Bailey Reed "
    "Kelly Howard Ramos Kim Cox Ward Richardson Watson Brooks Chavez Wood James Bennett Gray "
    "Mendoza Ruiz Hughes Price Alvarez"
)

COMPANY_A = _words(
    "Acme Apex Blue Bright Cedar Crystal Delta Eagle Echo Evergreen Falcon Global Golden "
    "Granite Harbor Horizon Iron Lunar Maple Meridian Nova Oak Orbit Pioneer Quantum Redwood "
    "Silver Summit Titan Vertex"
)

COMPANY_B = _words(
    "Analytics Dynamics Systems Logistics Foods Energy Labs Networks Partners Robotics "
    "Software Solutions Textiles Ventures Media Health Finance Motors Bio Works"
)

TITLES = _words(
    "CEO CTO CFO VP-Sales Sales-Manager Account-Executive Engineer Analyst Consultant "
    "Director Buyer Office-Manager Marketing-Lead Product-Manager"
)

WORDS = _words(
    "quarterly review follow up pricing renewal onboarding demo contract integration budget "
    "timeline expansion migration pilot support escalation proposal signed call email visit "
    "discount training upgrade priority feedback"
)
