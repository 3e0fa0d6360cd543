"""The search: program database (selection state), the loop, its status and limits, the final pick."""
