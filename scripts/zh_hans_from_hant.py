"""Fill the untranslated messages of every zh_Hans catalogue from its zh_Hant twin.

Character conversion is OpenCC's ``t2s``; Taiwan wording is first replaced by Mainland wording
from the reviewed list below (帳號→账号, 資訊→信息, 介面→界面, 預設→默认, 登入→登录 …), because
OpenCC's phrase tables (``tw2sp``) also turn 數位 into 数码, 執行 into 运行 and 預設 into 缺省.
Messages already translated in zh_Hans are left as a person wrote them.

A development tool, not a dependency: ``pip install opencc-python-reimplemented`` into your
venv, run ``make translations-extract`` first, then ``python scripts/zh_hans_from_hant.py``
(``--dry-run`` prints what OpenCC's phrase tables would have said differently, to review).
"""

from __future__ import annotations

import sys
from pathlib import Path

import opencc
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[1]

T2S = opencc.OpenCC("t2s")
TW2SP = opencc.OpenCC("tw2sp")
# Taiwan usage → Mainland usage, applied to the Traditional text before script conversion.
VOCAB = [
    ("重新整理", "刷新"),
    ("使用者", "用户"),
    ("伺服器", "服务器"),
    ("資料庫", "数据库"),
    ("電子郵件", "电子邮件"),
    ("電郵", "电子邮件"),
    ("行動電話", "手机"),
    ("帳號", "账号"),
    ("帳戶", "账户"),
    ("資訊", "信息"),
    ("軟體", "软件"),
    ("硬體", "硬件"),
    ("程式", "程序"),
    ("網路", "网络"),
    ("介面", "界面"),
    ("預設", "默认"),
    ("登入", "登录"),
    ("登出", "退出登录"),
    ("金鑰", "密钥"),
    ("稽核", "审计"),
    ("紀錄", "记录"),
    ("檔案", "文件"),
    ("訊息", "消息"),
    ("資料", "数据"),
    ("設定", "设置"),
    ("匯出", "导出"),
    ("匯入", "导入"),
    ("列印", "打印"),
    ("影片", "视频"),
    ("儲存", "保存"),
    ("載入", "加载"),
    ("連結", "链接"),
    ("搜尋", "搜索"),
    ("支援", "支持"),
    ("數位", "数字"),
    ("簡訊", "短信"),
    ("螢幕", "屏幕"),
    ("專案", "项目"),
    ("存取", "访问"),
    ("身分", "身份"),
    ("送出", "提交"),
    ("預覽", "预览"),
    ("權杖", "令牌"),
    ("憑證", "凭证"),
    ("加密貨幣", "加密货币"),
    ("最佳化", "优化"),
    ("範本", "模板"),
    ("欄位", "字段"),
    ("裝置", "设备"),
    ("註冊", "注册"),
    ("回報", "报告"),
    ("選單", "菜单"),
    ("游標", "光标"),
    ("指令", "命令"),
    ("執行緒", "线程"),
    ("快取", "缓存"),
    ("位址", "地址"),
    ("網址", "网址"),
    ("線上", "在线"),
    ("離線", "离线"),
    ("全螢幕", "全屏"),
    ("品質", "质量"),
    ("透過", "通过"),
    ("依照", "按照"),
    ("時區", "时区"),
    ("公尺", "米"),
    ("郵遞區號", "邮政编码"),
    ("建立", "创建"),
    ("聯絡", "联系"),
    ("新增", "添加"),
    ("檢視", "查看"),
    ("唯讀", "只读"),
    ("字元", "字符"),
    ("雜湊", "哈希"),
    ("接著", "接着"),
    ("隨著", "随着"),
    ("意味著", "意味着"),
    ("帶著", "带着"),
    ("有著", "有着"),
    ("主控台", "控制台"),
    ("工作階段", "会话"),
    ("排程器", "调度器"),
    ("排程", "计划"),
    ("開啟", "打开"),
    ("傳送", "发送"),
    ("寄送", "发送"),
    ("寄給", "发给"),
    ("「", "“"),
    ("」", "”"),
    ("『", "‘"),
    ("』", "’"),
    ("帳", "账"),
]


def convert(text: str) -> str:
    for tw, cn in VOCAB:
        text = text.replace(tw, cn)
    return T2S.convert(text)


def main(write: bool) -> None:
    for hans_path in sorted(ROOT.glob("intake/**/translations/zh_Hans/LC_MESSAGES/messages.po")):
        hant_path = Path(str(hans_path).replace("zh_Hans", "zh_Hant"))
        with hant_path.open("rb") as handle:
            hant = read_po(handle)
        with hans_path.open("rb") as handle:
            hans = read_po(handle, locale="zh_Hans")
        changed = 0
        for m in hans:
            done = m.string if isinstance(m.string, str) else all(m.string)
            if not m.id or (done and not m.fuzzy):
                continue
            src = hant.get(m.id, context=m.context)
            if src is None or not src.string:
                print("no zh_Hant source:", hans_path, m.id, file=sys.stderr)  # noqa: T201
                continue
            if isinstance(src.string, str):
                m.string = convert(src.string)
                other = TW2SP.convert(src.string)
                if other != m.string and not write:
                    print(f"{m.string}\n  tw2sp: {other}")  # noqa: T201
            else:
                m.string = tuple(convert(s) for s in src.string)
            m.flags.discard("fuzzy")
            changed += 1
        if write:
            with hans_path.open("wb") as handle:
                write_po(handle, hans, ignore_obsolete=True, include_previous=False)
        print(f"{hans_path.relative_to(ROOT)}: {changed} converted", file=sys.stderr)


def directory_table() -> None:
    """intake/directory/data/zh_hans.json: each Traditional name and description of the
    directory, in Simplified script (read by intake.vocab.entry_name/entry_description)."""
    import json

    data = json.loads((ROOT / "intake/directory/data/directory.json").read_text(encoding="utf-8"))
    entries = next(value for value in data.values() if isinstance(value, list))
    table = {
        text: convert(text)
        for entry in entries
        for text in (entry.get("name_zh"), entry.get("description_zh"))
        if text
    }
    target = ROOT / "intake/directory/data/zh_hans.json"
    target.write_text(json.dumps(table, ensure_ascii=False, indent=1, sort_keys=True) + "\n")
    print(f"{target.relative_to(ROOT)}: {len(table)} texts", file=sys.stderr)  # noqa: T201


if __name__ == "__main__":
    main(write="--dry-run" not in sys.argv)
    if "--dry-run" not in sys.argv:
        directory_table()
