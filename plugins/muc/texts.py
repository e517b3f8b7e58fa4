"""User-facing texts of the rooms (not protocol), in English and Chinese by ``xml:lang``."""

from __future__ import annotations

from component.texts import Texts, is_zh, pick

TEXTS: dict[str, tuple[str, str]] = {
    "invite": ("{inviter} invites you to the room {room}.", "{inviter} 邀请您加入聊天室 {room}。"),
    "invite_reason": ("{inviter} invites you to the room {room}: {reason}",
                      "{inviter} 邀请您加入聊天室 {room}：{reason}"),
    "invite_password": (" The password is {password}.", " 密码是 {password}。"),
    "decline": ("{decliner} declined your invitation to {room}.", "{decliner} 拒绝了您加入 {room} 的邀请。"),
    "voice_request_title": ("Voice request", "发言权申请"),
    "voice_request_instructions": (
        "To approve this request for voice, select the \"Grant voice\" checkbox and submit this form.",
        "要批准该发言权申请，请勾选“授予发言权”并提交此表单。"),
    "voice_request_body": ("{nick} asks for voice in {room}.", "{nick} 申请在 {room} 中发言。"),
    "config_title": ("Configuration of room {room}", "聊天室 {room} 的配置"),
    "config_instructions": ("Complete this form to configure the room.", "填写此表单以配置聊天室。"),
    "config_changed": ("The room configuration has changed.", "聊天室配置已更改。"),
    "register_title": ("Register a nickname in {room}", "在 {room} 中注册昵称"),
    "register_instructions": ("Choose the nickname reserved for you in this room; you become a member.",
                              "选择在此聊天室中为您保留的昵称；您将成为成员。"),
    "register_nick": ("Nickname", "昵称"),
    "room_locked": ("This room is locked until its owner configures it.", "此聊天室在所有者完成配置前处于锁定状态。"),
}

text = Texts(TEXTS)
label = pick
__all__ = ["TEXTS", "is_zh", "label", "text"]
