"""The field types of the identity contract (shared.contracts.identity)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StringConstraints

from shared.contracts import validators as v

Password = Annotated[str, Field(min_length=1, max_length=256)]
PersonName = Annotated[str, StringConstraints(min_length=1, max_length=64, strip_whitespace=True)]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=120, strip_whitespace=True)]
Email = Annotated[str, Field(min_length=3, max_length=254), AfterValidator(v.email)]
Phone = Annotated[str, Field(min_length=3, max_length=32), AfterValidator(v.e164)]
LocalPhone = Annotated[str, Field(min_length=3, max_length=40), AfterValidator(v.phone_input)]
"""E.164, or a local format parsed with the account's country and stored as E.164."""
LicenseChoice = Literal["inventory", "purchase"]
TimeZone = Annotated[str, AfterValidator(v.time_zone)]
LanguageTag = Annotated[str, Field(max_length=35), AfterValidator(v.language_tag)]
Country = Annotated[str, AfterValidator(v.country)]
UserType = Literal["standard", "video_pro_plus", "mobile", "free"]
UserStatus = Literal["NotActivated", "Enabled", "Disabled"]
ExtensionStatus = Literal["Unassigned", "NotActivated", "Enabled", "Disabled"]
CallRecording = Literal["off", "inbound", "outbound", "both"]
ExtensionNumber = Annotated[str, StringConstraints(min_length=1, max_length=8)]
