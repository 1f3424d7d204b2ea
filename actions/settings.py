"""Mailbox settings: read them, set automatic replies (out of office), supported languages and time zones."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from actions._inputs import ActionInput, MailboxInput, TimeZone
from actions.models import GraphObject
from connector.context import ActionContext
from connector.schemas import returns


# -- what actions return -----------------------------------------------------------------------------
class DateTimeTimeZone(GraphObject):
    date_time: str | None = Field(
        default=None, description="Local date and time, e.g. 2026-12-21T08:00:00.0000000."
    )
    time_zone: str | None = Field(default=None, description="Time zone of `dateTime`, e.g. UTC.")


class AutomaticRepliesSetting(GraphObject):
    status: str | None = Field(default=None, description="disabled, alwaysEnabled or scheduled.")
    external_audience: str | None = Field(default=None, description="none, contactsOnly or all.")
    scheduled_start_date_time: DateTimeTimeZone | None = None
    scheduled_end_date_time: DateTimeTimeZone | None = None
    internal_reply_message: str | None = None
    external_reply_message: str | None = None


class LocaleInfo(GraphObject):
    locale: str | None = Field(default=None, description="Language and country code, e.g. en-US.")
    display_name: str | None = None


class MailboxSettings(GraphObject):
    """A mailbox's settings (microsoft.graph.mailboxSettings)."""

    archive_folder: str | None = None
    automatic_replies_setting: AutomaticRepliesSetting | None = None
    time_zone: str | None = None
    language: LocaleInfo | None = None
    date_format: str | None = None
    time_format: str | None = None
    working_hours: dict[str, Any] | None = None
    delegate_meeting_message_delivery_options: str | None = None
    user_purpose: str | None = None


# -- get --------------------------------------------------------------------------------------------------
class GetMailboxSettingsInput(MailboxInput):
    pass


@returns(MailboxSettings)
def get_mailbox_settings(ctx: ActionContext, params: GetMailboxSettingsInput) -> dict[str, Any]:
    return ctx.graph.get_json(f"{ctx.mailbox(params.user_id)}/mailboxSettings")


_LOCAL_DATE_TIME = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,7})?)?$"


# -- automatic replies ---------------------------------------------------------------------------------------
class DateTimeInput(ActionInput):
    date_time: str = Field(
        pattern=_LOCAL_DATE_TIME,
        title="Date and time",
        description="Local date and time in `time_zone`, without an offset, e.g. 2026-12-21T08:00:00.",
        examples=["2026-12-21T08:00:00"],
    )
    time_zone: TimeZone = Field(
        default="UTC",
        min_length=1,
        title="Time zone",
        description="Windows or IANA time zone name (see List Supported Timezones), e.g. UTC or"
        " Pacific Standard Time.",
        examples=["UTC"],
    )

    @property
    def moment(self) -> datetime:
        return datetime.fromisoformat(self.date_time)

    def graph_json(self) -> dict[str, str]:
        return {"dateTime": self.date_time, "timeZone": self.time_zone}


class SetAutomaticRepliesInput(MailboxInput):
    status: Literal["disabled", "alwaysEnabled", "scheduled"] = Field(
        title="Status",
        description="disabled: no automatic replies; alwaysEnabled: reply until turned off; scheduled:"
        " reply only between `start` and `end`.",
        examples=["scheduled"],
    )
    start: DateTimeInput | None = Field(
        default=None, title="Start", description="With `scheduled` (required): when replies start."
    )
    end: DateTimeInput | None = Field(
        default=None, title="End", description="With `scheduled` (required): when replies stop."
    )
    internal_reply_message: str | None = Field(
        default=None,
        title="Reply inside the organisation",
        description="HTML or text sent to senders in your organisation. Empty: unchanged.",
        examples=["<p>I'm out until 4 January; Sam covers urgent requests.</p>"],
    )
    external_reply_message: str | None = Field(
        default=None,
        title="Reply outside the organisation",
        description="HTML or text sent to outside senders (see `external_audience`). Empty: unchanged.",
    )
    external_audience: Literal["none", "contactsOnly", "all"] | None = Field(
        default=None,
        title="Outside senders who get a reply",
        description="none: nobody outside; contactsOnly: only senders in your contacts; all: everyone."
        " Empty: unchanged.",
    )

    @model_validator(mode="after")
    def _schedule(self) -> SetAutomaticRepliesInput:
        if self.status == "scheduled":
            if self.start is None or self.end is None:
                raise ValueError("start and end: both are required when status is scheduled")
            if self.start.time_zone == self.end.time_zone and self.start.moment >= self.end.moment:
                raise ValueError("end: must be after start")
        return self


@returns(AutomaticRepliesSetting)
def set_automatic_replies(ctx: ActionContext, params: SetAutomaticRepliesInput) -> dict[str, Any]:
    setting: dict[str, Any] = {"status": params.status}
    if params.external_audience is not None:
        setting["externalAudience"] = params.external_audience
    if params.start is not None:
        setting["scheduledStartDateTime"] = params.start.graph_json()
    if params.end is not None:
        setting["scheduledEndDateTime"] = params.end.graph_json()
    if params.internal_reply_message is not None:
        setting["internalReplyMessage"] = params.internal_reply_message
    if params.external_reply_message is not None:
        setting["externalReplyMessage"] = params.external_reply_message
    answer = ctx.graph.patch_json(
        f"{ctx.mailbox(params.user_id)}/mailboxSettings", {"automaticRepliesSetting": setting}
    )
    result: dict[str, Any] = answer.get("automaticRepliesSetting") or setting
    return result


# -- languages and time zones -----------------------------------------------------------------------------
class ListSupportedLanguagesInput(MailboxInput):
    pass


class LanguagesOutput(BaseModel):
    languages: list[LocaleInfo] = Field(description="Languages the mailbox can use, with their locale codes.")
    count: int


@returns(LanguagesOutput)
def list_supported_languages(ctx: ActionContext, params: ListSupportedLanguagesInput) -> dict[str, Any]:
    page = ctx.graph.get_json(f"{ctx.mailbox(params.user_id)}/outlook/supportedLanguages")
    values = page.get("value", [])
    return {"languages": values, "count": len(values)}


class ListSupportedTimezonesInput(MailboxInput):
    standard: Literal["Windows", "Iana"] | None = Field(
        default=None,
        title="Format",
        description="Windows names (e.g. Pacific Standard Time) or IANA names (e.g. America/Los_Angeles)."
        " Empty: Windows, Graph's default.",
        examples=["Iana"],
    )


class TimeZoneInformation(GraphObject):
    alias: str | None = Field(default=None, description="The time zone's name, to use in other actions.")
    display_name: str | None = None


class TimezonesOutput(BaseModel):
    time_zones: list[TimeZoneInformation] = Field(description="The time zones the mailbox can use.")
    count: int


@returns(TimezonesOutput)
def list_supported_timezones(ctx: ActionContext, params: ListSupportedTimezonesInput) -> dict[str, Any]:
    path = f"{ctx.mailbox(params.user_id)}/outlook/supportedTimeZones"
    if params.standard:
        path += f"(TimeZoneStandard=microsoft.graph.timeZoneStandard'{params.standard}')"
    page = ctx.graph.get_json(path)
    values = page.get("value", [])
    return {"time_zones": values, "count": len(values)}
