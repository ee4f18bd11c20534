# language: ja
# 出典: faq-totp-reset-2021.en.txt「TOTP がすべて使えなくなった場合」（2021年12月2日更新）の
# 操作手順 1〜12: 「初期化」が URL をメールで送る旧ポータル（プロファイル iimc-2021、
# reset.mode = "link"、protocol.md §19）。確認コードで初期化するプロファイルでは、このシナリオは
# RESET_LINK_* のタグにより NOT_APPLICABLE となる（protocol.md §19.1）。
# 「学外にいて TOTP を確認できない場合は『Click here if you cannot login』」と、ブラウザ間の
# エクスポート／インポートは対象外: ポータルの外で行う操作のため。
# 「An email has been sent to the ICT Support Center」と表示された場合の ①〜②: アドレスのない
# アカウントの手順（protocol.md §19.5）で、faq_reset_helpdesk.feature に記す。
@manual_faq_totp_reset_2021
機能: メールの URL によるワンタイムパスワード設定の初期化（2021年のポータル）
  TOTP が使えなくなった利用者は SPS-ID とパスワードでログインして『初期化』をクリックし、
  登録アドレスに届いた URL を開いてもう一度ログインし、アプリを登録し直す。初期化により、
  それまでに登録したアプリはすべて無効になる。

  @RESET_REAUTHENTICATE @RESET_LINK_MAIL @MAIL_SUBJECT_RESET @RESET_LINK_REQUIRES_PASSWORD @RESET_THEN_SETUP @RESET_VOIDS_APPS @APP_REGISTER_REQUIRES_CODE @LOGOUT
  シナリオ: メールの URL で初期化し、アプリを登録し直す
    前提 ECS-ID/SPS-ID とパスワードを持ち、第二要素をまだ設定していない利用者がいる
    かつ 利用者はメール認証用アドレスにプライベートなアドレスを登録している
    かつ 利用者は Authenticator アプリを登録している
    # ① ②
    もし 『Click here if you have not initialized your one-time password (TOTP) yet.』をクリックする
    # ③
    かつ SPS-ID とパスワードを入力して『Login』をクリックし、次の画面で『初期化』をクリックする
    # ④
    ならば 画面に「メールを送信しました。」と表示され、URL の記載されたメールがアドレスに届く
    # ⑤
    もし メール本文の URL をクリックし、表示された画面で SPS-ID とパスワードを入力して『Login』をクリックする
    # ⑥
    ならば 画面に「ワンタイムパスワード認証の設定を初期化しました。」と表示される
    # ⑦ ⑧ 右上の家の形のボタン、「ワンタイムパスワード(トークン)」、もう一度リンク: 初期設定のアプリのタブ
    もし 『アプリ』をクリックする
    # ⑨
    かつ スマートフォンの Authenticator アプリで QR コードを読み込む
    # ⑩ ⑪ 『登録』、アプリに表示された TOTP、『確認』
    かつ アプリに表示されたワンタイムパスワードを入力して『登録』をクリックする
    # ⑫
    ならば アプリが登録される
    もし 右上の『☰』をクリックし、『ログアウト』をクリックする
    ならば 次回のログインでは新しいアプリのワンタイムパスワードだけが受け付けられ、古いアプリのものは拒否される
